// The cart, kept in storage for one store: picking another store empties it.
const KEY = 'mp.cart'
const MAX_QTY = 999

function load() {
  const cart = wx.getStorageSync(KEY)
  return cart && Array.isArray(cart.lines) ? cart : { store: '', lines: [] }
}

function save(cart) {
  wx.setStorageSync(KEY, cart)
  return cart
}

function add(store, product) {
  const cart = load()
  if (cart.store !== store) {
    cart.store = store
    cart.lines = []
  }
  const line = cart.lines.find(l => l.product_id === product.product_id)
  if (line) line.qty = Math.min(line.qty + 1, MAX_QTY)
  else cart.lines.push({
    product_id: product.product_id, name_zh: product.name_zh, name_en: product.name_en,
    unit_price: product.unit_price, qty: 1,
  })
  return save(cart)
}

function setQty(productId, qty) {
  const cart = load()
  cart.lines = cart.lines
    .map(l => (l.product_id === productId ? { ...l, qty: Math.min(qty, MAX_QTY) } : l))
    .filter(l => l.qty > 0)
  return save(cart)
}

/** Shelf price times quantity; the bridge prices the order itself (promotions too). */
function estimate(cart) {
  return cart.lines.reduce((sum, l) => sum + l.unit_price * l.qty, 0)
}

function clear() {
  wx.removeStorageSync(KEY)
}

module.exports = { load, add, setQty, estimate, clear, MAX_QTY }
