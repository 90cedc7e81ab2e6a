import ChatHooksSink

SinkCommand.main(CommandLine.arguments)
