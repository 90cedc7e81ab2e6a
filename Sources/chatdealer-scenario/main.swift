import ChatHooksCore

Server.main(.fixed(.scenario))
