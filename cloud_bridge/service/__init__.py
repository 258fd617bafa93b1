"""Customer service (客户服务): conversations and tickets, live chat, SLA clocks, CSAT,
complaints, knowledge base, appointments, after-sales, delivery tracking, community.

The folder is the domain (DESIGN.md); rules live in modules named by concern
(``tickets``, ``chat``, ``sla``, ...); :mod:`.service` is what other domains call.
"""
