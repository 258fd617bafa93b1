"""Marketing: coupon templates and claimed coupons (one row each), locked to one order;
campaigns shipped with the price book; flash sales and group buying."""

# The domain's tables beyond models.py, on the metadata whenever the domain is loaded.
from . import campaign_models, deal_models  # noqa: F401
