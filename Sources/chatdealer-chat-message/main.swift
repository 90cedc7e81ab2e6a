import ChatHooksCore

CGITransport.main(.chatdealer(.chatMessage))
