const { install, openPage, settle, tap, text, texts, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const TOKEN = 'AbCdEfGhIjKlMnOpQrStUv'
const ORDERS = { total: 1, items: [{ order_no: 'S1-0', store: 's1', status: 'paid', total: 700,
                                     created_at: '2026-12-05T09:30:00+08:00' }] }

test('scanning a kiosk receipt claims its order with the receipt token', async () => {
  let claimed = false
  const wx = install({ scan: `https://mp.example.com/r/S1-0?t=${TOKEN}`, storage: { ...SESSION }, replies: {
    [`GET ${M}/orders`]: () => ({ data: claimed ? ORDERS : { total: 0, items: [] } }),
    [`POST ${M}/orders/S1-0/claim`]: () => { claimed = true; return { data: ORDERS.items[0] } },
  } })
  const page = await openPage('orders')
  expect(text(page, '.empty')).toBe('暂无订单')
  await tap(page, '.scan')
  await settle()
  const claim = wx.requests.find(r => r.method === 'POST')
  expect(claim.path).toBe(`${M}/orders/S1-0/claim`)
  expect(claim.data).toEqual({ token: TOKEN })
  expect(text(page, '.notice')).toBe('已领取订单')
  expect(texts(page, '.order .status')).toEqual(['已支付'])
  expect(text(page, '.order .amount')).toBe('¥7.00')
})

test('a QR that is not a receipt is refused before asking the bridge', async () => {
  const wx = install({ scan: 'https://evil.example.com/pay?x=1', storage: { ...SESSION }, replies: {
    [`GET ${M}/orders`]: { data: { total: 0, items: [] } },
  } })
  const page = await openPage('orders')
  await tap(page, '.scan')
  expect(text(page, '.error')).toBe('这不是本店小票的二维码')
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])
})

test('a refused claim says so, whatever the reason the bridge keeps to itself', async () => {
  install({ language: 'en_US', scan: `https://mp.example.com/r/S1-9?t=${TOKEN}`, storage: { ...SESSION }, replies: {
    [`GET ${M}/orders`]: { data: { total: 0, items: [] } },
    [`POST ${M}/orders/S1-9/claim`]: { status: 404, data: { title: 'Not Found', detail: 'order S1-9 not found' } },
  } })
  const page = await openPage('orders')
  await tap(page, '.scan')
  expect(text(page, '.error')).toBe('This order cannot be claimed')
})

test('receipt QR parsing', () => {
  const { parseReceiptQr } = require('../lib/receipt.js')
  expect(parseReceiptQr(`https://mp.example.com/r/S1-0?t=${TOKEN}`)).toEqual({ orderNo: 'S1-0', token: TOKEN })
  expect(parseReceiptQr(`https://mp.example.com/r/S1-0?lang=en&t=${TOKEN}`)).toEqual({ orderNo: 'S1-0', token: TOKEN })
  expect(parseReceiptQr('https://mp.example.com/r/S1-0?t=short')).toBeNull()
  expect(parseReceiptQr(`https://mp.example.com/r/S1%2F0?t=${TOKEN}`)).toBeNull()
  expect(parseReceiptQr(`S1-0 ${TOKEN}`)).toBeNull()
  expect(parseReceiptQr(undefined)).toBeNull()
})
