"""Mini-program payment (issue 19): WeChat Pay JSAPI for the shopper's orders.

``api.py`` serves ``POST /api/v1/mp/orders/{order_no}/pay``; ``service.py`` holds the
rules (one out_trade_no per order, the payment recorded before the provider call, the
timeout close); ``runtime.py`` runs the close job. The protocol itself is in
:mod:`cloud_bridge.payments.jsapi`; the notification is the payments domain's.
"""
