import ChatHooksCore

Server.main(.fixed(.spaloSend))
