import ChatHooksCore

CGITransport.main(.chatdealer(.chatEnd))
