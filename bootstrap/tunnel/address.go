package tunnel

// AgentAddress is the one address the gateway dials through a Pull member's tunnel: the agent maps
// it to its APIServerProxy (Options.Dial), so the gateway needs to know nothing about where the
// agent runs it.
const AgentAddress = "fleetgate-agent:80"
