import ChatHooksConsole
import ChatHooksCore

// The multi-call executable is the one that serves the web console (admin/).
Console.install()
CLI.main(CommandLine.arguments)
