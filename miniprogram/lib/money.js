// Amounts are integer fen from the bridge; shown as yuan with two decimals, never
// through floating point.
function yuan(fen) {
  const n = Number(fen)
  if (!Number.isInteger(n)) return ''
  const sign = n < 0 ? '-' : ''
  const abs = Math.abs(n)
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`
}

module.exports = { yuan }
