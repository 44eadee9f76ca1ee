"""What an operator manages that is no call to a station (tokens, ...): the functions the
command line and the HTTP API both call, so that neither holds rules of its own."""
