// Entry point; subcommands live in one file each.
print("keyrelay: not yet wired")
