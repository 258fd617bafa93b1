const { has, install, openPage, settle, tap, text, texts, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const PRODUCTS = { store: 's1', currency: 'CNY', total: 2, items: [
  { product_id: 'coke-330', name_zh: '可口可乐 330ml', name_en: 'Coca-Cola 330ml can', category: 'drinks',
    unit_price: 250, member_price: null, age_restricted: false },
  { product_id: 'oreo-97', name_zh: '奥利奥', name_en: 'Oreo', category: 'snacks',
    unit_price: 890, member_price: 800, age_restricted: false },
] }
const PAY_PARAMS = { appId: 'wx0000000000000000', timeStamp: '1764900000', nonceStr: 'n0nce',
                     package: 'prepay_id=wx123', signType: 'RSA', paySign: 'c2lnbg==',
                     order_no: 'MP1', out_trade_no: 'MP1', amount: 1390, currency: 'CNY' }

function order(status) {
  return { order_no: 'MP1', store: 's1', status, total: 1390, discount_total: 0, invoice: null,
           lines: [{ line_no: 1, name_zh: '可口可乐 330ml', name_en: 'Coke', qty: 2, amount: 500 },
                   { line_no: 2, name_zh: '奥利奥', name_en: 'Oreo', qty: 1, amount: 890 }] }
}

test('search a product by name and add it to the cart of the picked store', async () => {
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`GET ${M}/stores/s1/products`]: req => ({ data: req.query.q === '可乐'
      ? { ...PRODUCTS, total: 1, items: PRODUCTS.items.slice(0, 1) } : PRODUCTS }),
  } })
  const page = await openPage('shop')
  expect(texts(page, '.product .name')).toEqual(['可口可乐 330ml', '奥利奥'])
  page.instance.onInput({ detail: { value: ' 可乐 ' } })
  await page.instance.search()
  await settle()
  expect(wx.requests.at(-1).query).toEqual({ q: '可乐', limit: '50' })
  expect(texts(page, '.product .name')).toEqual(['可口可乐 330ml'])
  await tap(page, '.add')
  await tap(page, '.add')
  expect(wx.storage['mp.cart']).toEqual({ store: 's1', lines: [
    { product_id: 'coke-330', name_zh: '可口可乐 330ml', name_en: 'Coca-Cola 330ml can', unit_price: 250, qty: 2 }] })
  expect(text(page, '.cart-bar')).toBe('购物车 (2)')
})

test('checkout places the order, pays it with wx.requestPayment, then waits to see it paid', async () => {
  let status = 'created'
  const wx = install({ storage: { ...SESSION, 'mp.cart': { store: 's1', lines: [
    { product_id: 'coke-330', name_zh: '可口可乐 330ml', name_en: 'Coke', unit_price: 250, qty: 2 },
    { product_id: 'oreo-97', name_zh: '奥利奥', name_en: 'Oreo', unit_price: 890, qty: 1 }] } },
  replies: {
    [`GET ${M}/coupons`]: { data: { total: 0, items: [] } },
    [`POST ${M}/orders`]: { status: 201, data: order('created') },
    [`POST ${M}/orders/MP1/pay`]: () => { status = 'paid'; return { data: PAY_PARAMS } },
    [`GET ${M}/orders/MP1`]: () => ({ data: order(status) }),
  } })
  const cart = await openPage('cart')
  expect(has(cart, '.coupon-picker')).toBe(false)      // no coupon to pick
  expect(text(cart, '.estimate')).toBe('¥13.90')
  cart.instance.onField({ currentTarget: { dataset: { field: 'note' } }, detail: { value: '少冰' } })
  await tap(cart, '.checkout')
  const placed = wx.requests.find(r => r.method === 'POST' && r.path === `${M}/orders`)
  expect(placed.data).toEqual({ store: 's1', fulfillment: 'pickup', note: '少冰', lines: [
    { product_id: 'coke-330', qty: 2 }, { product_id: 'oreo-97', qty: 1 }] })
  const [paid] = wx.called('requestPayment')
  expect({ ...paid, success: undefined, fail: undefined }).toEqual({
    timeStamp: '1764900000', nonceStr: 'n0nce', package: 'prepay_id=wx123', signType: 'RSA',
    paySign: 'c2lnbg==', success: undefined, fail: undefined })
  expect(wx.storage['mp.cart']).toBeUndefined()
  expect(wx.called('redirectTo')).toEqual([{ url: '/pages/order/index?order_no=MP1&paying=1' }])

  const detail = await openPage('order', { order_no: 'MP1', paying: '1' })
  expect(text(detail, '.status')).toBe('已支付')
  expect(text(detail, '.total')).toBe('¥13.90')
  expect(has(detail, '.pay')).toBe(false)
  expect(has(detail, '.invoice')).toBe(true)
  expect(wx.unexpected).toEqual([])
})

test('a cancelled payment leaves the order to pay later; delivery needs an address', async () => {
  const wx = install({ payment: 'cancel', storage: { ...SESSION, 'mp.cart': { store: 's1', lines: [
    { product_id: 'coke-330', name_zh: '可口可乐', name_en: 'Coke', unit_price: 250, qty: 1 }] } },
  replies: {
    [`GET ${M}/coupons`]: { status: 404, data: { title: 'Not Found', detail: 'not a member yet' } },
    [`POST ${M}/orders`]: { status: 201, data: order('created') },
    [`POST ${M}/orders/MP1/pay`]: { data: PAY_PARAMS },
  } })
  const cart = await openPage('cart')
  expect(has(cart, '.coupon-picker')).toBe(false)      // not a member: no picker, no error
  expect(has(cart, '.error')).toBe(false)
  cart.instance.pickFulfillment({ detail: { value: 'delivery' } })
  await tap(cart, '.checkout')
  expect(text(cart, '.error')).toBe('请填写收货信息')
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])
  for (const [field, value] of [['name', '张三'], ['phone', '13800000000'], ['address', '上海市']]) {
    cart.instance.onField({ currentTarget: { dataset: { field } }, detail: { value } })
  }
  await tap(cart, '.checkout')
  expect(wx.requests.find(r => r.method === 'POST').data.shipping_address).toEqual({ name: '张三', phone: '13800000000', address: '上海市' })
  expect(text(cart, '.notice')).toBe('支付已取消，订单可在“我的订单”里继续支付')
  expect(wx.called('redirectTo')).toEqual([])
})

test('an unpaid order can be paid from its page', async () => {
  let status = 'created'
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: () => ({ data: order(status) }),
    [`POST ${M}/orders/MP1/pay`]: () => { status = 'paid'; return { data: PAY_PARAMS } },
  } })
  const page = await openPage('order', { order_no: 'MP1' })
  expect(text(page, '.status')).toBe('待支付')
  expect(has(page, '.invoice')).toBe(false)           // nothing paid, nothing to invoice
  await tap(page, '.pay')
  await settle()
  expect(wx.called('requestPayment').length).toBe(1)
  expect(text(page, '.status')).toBe('已支付')
})

test('a shipped delivery shows its carrier and tracking number, and the carrier news', async () => {
  install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: { data: { ...order('shipped'), carrier: '顺丰', tracking_no: 'SF1234567890' } },
    [`GET ${M}/service/orders/MP1/tracking`]: { data: {
      order_no: 'MP1', carrier: 'shunfeng', tracking_no: 'SF1234567890', state: 'in_transit',
      state_zh: '运输中', state_en: 'In transit', last_event_at: '2026-12-05T12:00:00+08:00', delivered_at: null,
      events: [{ at: '2026-12-05T12:00:00+08:00', context: '快件已到达上海转运中心', area: '上海' },
               { at: '2026-12-05T08:00:00+08:00', context: '已揽收', area: null }] } },
  } })
  const page = await openPage('order', { order_no: 'MP1' })
  expect(text(page, '.status')).toBe('已发货')
  expect(text(page, '.tracking')).toBe('顺丰 SF1234567890')
  expect(text(page, '.track-state')).toBe('运输中')
  expect(texts(page, '.track-event')).toEqual(['2026-12-05 12:00 快件已到达上海转运中心 (上海)',
                                               '2026-12-05 08:00 已揽收'])
  expect(has(page, '.aftersales')).toBe(false)         // not handed over yet: no return
})

test('tracking the tracker has not heard of yet shows the number only', async () => {
  const wx = install({ language: 'en', storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: { data: { ...order('shipped'), carrier: 'SF', tracking_no: 'SF1' } },
    [`GET ${M}/service/orders/MP1/tracking`]: { status: 404, data: { title: 'Not Found', detail: 'no shipment' } },
  } })
  const page = await openPage('order', { order_no: 'MP1' })
  expect(text(page, '.tracking')).toBe('SF SF1')
  expect(has(page, '.track')).toBe(false)
  expect(has(page, '.error')).toBe(false)
  expect(wx.unexpected).toEqual([])
})

test('a completed order shows its coupon discount and offers a return', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: { data: { ...order('completed'), discount_total: 1000, details: { coupons: ['c1'],
      discounts: [{ id: 'c1', kind: 'coupon', amount: 1000, label_zh: '满50减10', label_en: '10 off 50' }] } } },
  } })
  const page = await openPage('order', { order_no: 'MP1' })
  expect(texts(page, '.discount-label')).toEqual(['满50减10'])
  expect(texts(page, '.discount-amount')).toEqual(['-¥10.00'])
  await tap(page, '.aftersales')
  expect(wx.called('navigateTo')).toEqual([{ url: '/pages/aftersales/index?order_no=MP1' }])
})

test('checkout with one of my coupons sends it; the bridge refusing it says why', async () => {
  const wx = install({ storage: { ...SESSION, 'mp.cart': { store: 's1', lines: [
    { product_id: 'coke-330', name_zh: '可口可乐', name_en: 'Coke', unit_price: 250, qty: 1 }] } },
  replies: {
    [`GET ${M}/coupons`]: { data: { total: 1, items: [{ id: 'c0a1', name_zh: '满50减10', name_en: '10 off 50',
      kind: 'fixed', value: 1000, threshold: 5000, status: 'unused', valid_until: '2026-12-31T23:59:59+08:00' }] } },
    [`POST ${M}/orders`]: { status: 409, data: { title: 'Conflict',
      detail: 'coupon c0a1 needs an order of at least 5000 fen of eligible goods' } },
  } })
  const cart = await openPage('cart')
  expect(wx.requests[0].query).toEqual({ status: 'unused', limit: '50' })
  expect(text(cart, '.coupon-choice')).toBe('不使用优惠券 ›')
  cart.instance.pickCoupon({ detail: { value: '1' } })
  await settle()
  expect(text(cart, '.coupon-choice')).toBe('满50减10 (有效期至 2026-12-31) ›')
  await tap(cart, '.checkout')
  const placed = wx.requests.find(r => r.method === 'POST')
  expect(placed.data.coupon_id).toBe('c0a1')
  expect(text(cart, '.error')).toBe('coupon c0a1 needs an order of at least 5000 fen of eligible goods')
  expect(wx.called('requestPayment')).toEqual([])
  expect(wx.storage['mp.cart'].lines.length).toBe(1)    // nothing placed: the cart stays
})

test('a paid order cannot be paid again: the bridge says why', async () => {
  install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: { data: order('created') },
    [`POST ${M}/orders/MP1/pay`]: { status: 409, data: { title: 'Conflict', detail: 'order MP1 is paid' } },
  } })
  const page = await openPage('order', { order_no: 'MP1' })
  await tap(page, '.pay')
  expect(text(page, '.error')).toBe('order MP1 is paid')
})
