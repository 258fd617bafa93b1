"""``make demo`` (``python -m demo``): the self-checkout system on one machine, scripted.

The full demo starts its own Mosquitto (with the project's ACL), the cloud bridge
with the payment sandboxes and one kiosk agent with a replay camera, a file
printer and a customer display on a pseudo-terminal, then plays a shopper (see
:mod:`demo.system`). When a part of the system is not available on this machine
the demo says which and runs the kiosk alone on fakes (:mod:`demo.local`).
"""
