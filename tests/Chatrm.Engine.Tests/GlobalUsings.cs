// The tests reach into every part of the engine; its public API is in the root namespace.
global using Chatrm.Engine.Client;
global using Chatrm.Engine.Messaging;
global using Chatrm.Engine.Protocol;
global using Chatrm.Engine.Protocol.Classic;
global using Chatrm.Engine.Protocol.Native;
global using Chatrm.Engine.Routing;
global using Chatrm.Engine.Server;
global using Chatrm.Engine.Transport;
