import ChatHooksCore

CGITransport.main(.chatdealer(.scenario))
