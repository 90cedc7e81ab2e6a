import ChatHooksCore

CLI.main(CommandLine.arguments)
