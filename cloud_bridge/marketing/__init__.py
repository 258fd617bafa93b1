"""Marketing: coupon templates and claimed coupons (one row each), locked to one order."""
