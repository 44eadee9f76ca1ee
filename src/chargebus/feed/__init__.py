"""The feed: what happens in the network, as one ordered stream of events that the HTTP
API serves live and delivers to webhooks."""
