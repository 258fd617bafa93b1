"""Routes of the customer-service domain: every route module's ``ROUTES``, in one list."""

from __future__ import annotations

from . import (
    api_aftersales,
    api_appointments,
    api_chat,
    api_community,
    api_delivery,
    api_kb,
    api_selfservice,
    api_sla,
    api_tickets,
)

ROUTES = [*api_tickets.ROUTES, *api_chat.ROUTES, *api_sla.ROUTES,
          *api_appointments.ROUTES, *api_selfservice.ROUTES, *api_kb.ROUTES,
          *api_aftersales.ROUTES, *api_delivery.ROUTES, *api_community.ROUTES]
SANDBOX_ROUTES = api_delivery.SANDBOX_ROUTES
