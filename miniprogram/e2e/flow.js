// The shopper's whole visit, through the same modules the pages use (lib/api.js,
// lib/session.js, lib/pay.js, lib/receipt.js), against a running bridge and its
// payment sandbox. tests/miniprogram/test_e2e.py starts both and runs this.
//
// Environment: BRIDGE_URL, PAY_SANDBOX_URL (the WeChat gateway of `cloud-bridge sandbox`),
// MP_APP_ID (the appid WeChat Pay signs for), LOGIN_CODE, RECEIPT_QR (the text of a kiosk receipt's QR code), STORE;
// with ADMIN_USER/ADMIN_SECRET/PAY_PASSWORD also a top-up, a coupon and a stored-value
// payment of an order priced with the coupon.
// Prints one JSON line of what the shopper saw (as far as they got); exits 1 with the
// reason on stderr on any failure.
const { nodeWx } = require('./node-wx.js')

async function main(env, seen = {}) {
  global.wx = nodeWx({ loginCode: env.LOGIN_CODE, paySandboxUrl: env.PAY_SANDBOX_URL, appId: env.MP_APP_ID })
  wx.setStorageSync('mp.bridge_url', env.BRIDGE_URL)
  const api = require('../lib/api.js')
  const pay = require('../lib/pay.js')
  const session = require('../lib/session.js')
  const { parseReceiptQr } = require('../lib/receipt.js')

  // Login and joining, as the login page does.
  const code = await session.wxLoginCode()
  const login = await api.call('login', { body: { code } })
  session.save(login)
  wx.openid = login.openid
  const member = await api.call('register', { body: { phone_code: 'e2e-phone', home_store: env.STORE } })
  seen.member = { phone_bound: member.phone_bound, level: member.level }

  // The member card.
  const card = await api.call('memberCode')
  seen.member_code = { kind: card.code.split('.')[0], expires_in_s: card.expires_at - Math.floor(Date.now() / 1000) }

  // Home: the store; the shop: a product; the cart: order and pay.
  const stores = await api.call('stores')
  seen.stores = stores.items.map(s => s.store)
  session.setStore(env.STORE)
  const found = await api.call('products', { path: { store: env.STORE }, query: { q: '可乐' } })
  const product = found.items[0]
  const order = await api.call('createOrder', { body: {
    store: env.STORE, fulfillment: 'pickup', lines: [{ product_id: product.product_id, qty: 2 }] } })
  seen.order = { order_no: order.order_no, status: order.status, total: order.total }
  seen.payment = await pay.payOrder(order.order_no)
  const paid = await pay.waitPaid(order.order_no)
  seen.paid = { status: paid.status, paid_at: Boolean(paid.paid_at) }

  // My orders: claim the kiosk receipt scanned from its QR.
  const receipt = parseReceiptQr(env.RECEIPT_QR)
  const claimed = await api.call('claimOrder', { path: { order_no: receipt.orderNo }, body: { token: receipt.token } })
  const mine = await api.call('orders', { query: { limit: 50 } })
  seen.claimed = claimed.order_no
  seen.my_orders = mine.items.map(o => o.order_no).sort()

  // The invoice of the mini-program order.
  const invoice = await api.call('requestInvoice', { path: { order_no: order.order_no },
    body: { kind: 'personal', title: '张三', email: 'zhangsan@example.com' } })
  const again = await api.call('invoice', { path: { order_no: order.order_no } })
  seen.invoice = { status: invoice.status, amount: invoice.amount, read_back: again.status }

  // Stored value and a coupon: the counter tops the member up and head office gives out
  // a coupon (staff, through the admin API); the member claims it, sets a payment
  // password and pays a second order, priced with the coupon, from the balance.
  if (env.ADMIN_USER) {
    const staff = await admin(env)
    await staff(`/api/v1/admin/members/${member.member_id}/balance/topups`,
                { amount: 2000, key: `e2e-${member.member_id}` })
    const template = await staff('/api/v1/admin/marketing/coupon-templates', {
      name_zh: '满2减1', name_en: '1 off 2', kind: 'fixed', value: 100, threshold: 200,
      total_limit: 10, per_user_limit: 1, valid_days: 7 })
    const coupon = await api.call('claimCoupon', { body: { template_id: template.id } })
    await api.call('setPayPassword', { body: { password: env.PAY_PASSWORD } })
    const second = await api.call('createOrder', { body: {
      store: env.STORE, fulfillment: 'pickup', lines: [{ product_id: product.product_id, qty: 1 }],
      coupon_id: coupon.id } })
    const byBalance = await api.call('payStoredValue', { path: { order_no: second.order_no },
                                                         body: { password: env.PAY_PASSWORD } })
    seen.stored_value = { status: byBalance.status, amount: byBalance.amount, balance: byBalance.balance }
    const wallet = await api.call('coupons')
    const used = wallet.items.find(c => c.id === coupon.id)
    seen.coupon = { status: used.status, order: used.order_no === second.order_no,
                    discount_total: second.discount_total }
  }
  return seen
}

/** A staff member's POST through the admin API (logged in once). */
async function admin(env) {
  const post = async (path, body, token) => {
    const res = await fetch(env.BRIDGE_URL + path, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) } })
    if (!res.ok) throw new Error(`admin ${path}: ${res.status} ${await res.text()}`)
    return res.json()
  }
  const { token } = await post('/api/v1/admin/session', { username: env.ADMIN_USER, secret: env.ADMIN_SECRET })
  return (path, body) => post(path, body, token)
}

if (require.main === module) {
  const seen = {}
  main(process.env, seen).then(
    () => { process.stdout.write(JSON.stringify(seen) + '\n') },
    err => {
      process.stdout.write(JSON.stringify(seen) + '\n')
      process.stderr.write(`e2e failed: ${err.stack || err}\n`)
      process.exit(1)
    },
  )
}

module.exports = { main }
