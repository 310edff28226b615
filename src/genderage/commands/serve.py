def add_parser(sub):
    p = sub.add_parser("serve", help="(not yet implemented)")
    p.set_defaults(run=lambda args: 1)
