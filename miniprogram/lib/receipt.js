// The QR code on a kiosk receipt: the e-receipt URL with the order number as the last
// path segment and the receipt's secret as t= (drivers/receipt/layout.py prints it).
const ORDER_NO = /^[A-Za-z0-9_-]{1,64}$/
const TOKEN = /^[A-Za-z0-9_-]{16,64}$/

/** { orderNo, token } from a scanned receipt QR, or null when it is not one. */
function parseReceiptQr(text) {
  const m = /^https?:\/\/[^/?#]+\/(?:[^?#]*\/)?([^/?#]+)\?(?:[^#]*&)?t=([^&#]+)/.exec(String(text || ''))
  if (!m) return null
  let orderNo
  let token
  try {
    orderNo = decodeURIComponent(m[1])
    token = decodeURIComponent(m[2])
  } catch (err) {
    return null
  }
  if (!ORDER_NO.test(orderNo) || !TOKEN.test(token)) return null
  return { orderNo, token }
}

module.exports = { parseReceiptQr }
