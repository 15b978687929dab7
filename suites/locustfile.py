"""Load on a Riva deployment with locust (docs/load.md).

    locust -f suites/locustfile.py --host localhost:50051 --headless -u 4 -r 4 -t 60s
    locust -f suites/locustfile.py RivaStreamingUser ...   # one user class only
"""

from rivaverify.load.riva_user import RivaRecognizeUser, RivaStreamingUser  # noqa: F401
from rivaverify.load.shapes import RivaShape  # noqa: F401
from rivaverify.settings import load

if load().gateway_url:  # the gateway's WebSocket user, when a gateway is configured (RIVA__GATEWAY_URL)
    from rivaverify.load.gateway_user import GatewayUser  # noqa: F401
