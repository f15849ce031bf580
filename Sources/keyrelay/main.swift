// The executable's entry point. Subcommands live in one file each; nothing here is called from
// C (main.swift code is main-actor isolated, see STACK.md pitfall 2).
import Foundation

let status = await KeyRelayCommand.run(Array(CommandLine.arguments.dropFirst()))
exit(status)
