// Paying an order inside WeChat: the bridge makes the prepay and signs the parameters
// (POST /api/v1/mp/orders/{no}/pay), wx.requestPayment shows WeChat's own sheet, where
// the shopper confirms with their password or fingerprint. The order becomes paid when
// WeChat's notification reaches the bridge, so the page then waits to see it paid.
const api = require('./api.js')

function requestPayment(params) {
  return new Promise(resolve => {
    wx.requestPayment({
      timeStamp: params.timeStamp,
      nonceStr: params.nonceStr,
      package: params.package,
      signType: params.signType,
      paySign: params.paySign,
      success: () => resolve('paid'),
      fail: err => resolve(/cancel/.test((err && err.errMsg) || '') ? 'cancelled' : 'failed'),
    })
  })
}

/** "paid", "cancelled" or "failed" (a call error rejects, for the page to show). */
async function payOrder(orderNo) {
  const params = await api.call('payOrder', { path: { order_no: orderNo } })
  return requestPayment(params)
}

// The notification usually lands within a second; the page polls this often, this
// many times, then shows the order as it is (the shopper can pull to refresh).
const POLL_MS = 1000
const POLL_TRIES = 15

/** The order once it is no longer waiting for payment, or as it is after the last try. */
async function waitPaid(orderNo, sleep = ms => new Promise(r => setTimeout(r, ms))) {
  let order = null
  for (let i = 0; i < POLL_TRIES; i++) {
    order = await api.call('order', { path: { order_no: orderNo } })
    if (order.status !== 'created') return order
    await sleep(POLL_MS)
  }
  return order
}

module.exports = { payOrder, requestPayment, waitPaid, POLL_MS, POLL_TRIES }
