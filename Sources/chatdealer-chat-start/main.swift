import ChatHooksCore

CGITransport.main(.chatdealer(.chatStart))
