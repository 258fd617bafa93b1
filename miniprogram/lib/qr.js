// The member code as a QR image (a data URL an <image> shows), and when to fetch a new
// one: codes live MEMBER_CODE_TTL_S (180 s) at the bridge, so the page asks again
// REFRESH_MARGIN_S before the code expires, and never more often than MIN_REFRESH_S
// (a phone whose clock is off would otherwise ask in a loop).
const qrcode = require('qrcode-generator')

const REFRESH_MARGIN_S = 30
const MIN_REFRESH_S = 10
// The kiosk's camera reads a QR best with large modules and a quiet zone of 4.
const CELL_PX = 8
const MARGIN_CELLS = 4

function qrDataUrl(text) {
  const qr = qrcode(0, 'M')
  qr.addData(text)
  qr.make()
  return qr.createDataURL(CELL_PX, MARGIN_CELLS * CELL_PX)
}

/** Milliseconds until the page should fetch a fresh code. */
function refreshDelayMs(expiresAtEpochS, nowMs) {
  const left = expiresAtEpochS * 1000 - nowMs - REFRESH_MARGIN_S * 1000
  return Math.max(left, MIN_REFRESH_S * 1000)
}

module.exports = { qrDataUrl, refreshDelayMs, REFRESH_MARGIN_S, MIN_REFRESH_S }
