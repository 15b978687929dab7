"""The rivagateway as phase 070 sees it: client, event contract, metrics, process."""
