// Home-page entries appear only when the bridge serves the operation they need: a page
// whose API has not landed on this bridge is not shown at all (nothing broken to tap).
const api = require('./api.js')

const ENTRIES = [
  { key: 'memberCard', url: '/pages/member/index', needs: 'memberCode' },
  { key: 'coupons', url: '/pages/coupons/index', needs: 'coupons' },
  { key: 'shop', url: '/pages/shop/index', needs: 'products' },
  { key: 'cart', url: '/pages/cart/index', needs: 'createOrder' },
  { key: 'myOrders', url: '/pages/orders/index', needs: 'orders' },
  { key: 'appointments', url: '/pages/appointments/index', needs: 'bookable' },
  { key: 'feedback', url: '/pages/feedback/index', needs: 'complain' },
  { key: 'afterSales', url: '/pages/aftersales/index', needs: 'myAfterSales' },
  { key: 'chat', url: '/pages/chat/index', needs: 'conversations' },
  { key: 'faq', url: '/pages/faq/index', needs: 'faq' },
  { key: 'surveys', url: '/pages/surveys/index', needs: 'surveys' },
]

/** The (method, path) pairs the bridge's OpenAPI document serves. */
function served(document) {
  const out = new Set()
  const paths = (document && document.paths) || {}
  Object.keys(paths).forEach(path => {
    Object.keys(paths[path]).forEach(method => out.add(`${method.toUpperCase()} ${path}`))
  })
  return out
}

/** Whether the bridge's document serves the operation ``name`` of lib/api.js. */
function serves(document, name) {
  const [method, path] = api.OPERATIONS[name]
  return served(document).has(`${method} ${path}`)
}

/** The entries whose operation the bridge serves, in their order. */
function available(document) {
  const have = served(document)
  return ENTRIES.filter(e => {
    const [method, path] = api.OPERATIONS[e.needs]
    return have.has(`${method} ${path}`)
  })
}

module.exports = { ENTRIES, available, served, serves }
