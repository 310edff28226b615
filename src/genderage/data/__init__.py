"""UTKFace data layer: reading, label parsing, duplicate detection and grouped splits."""
