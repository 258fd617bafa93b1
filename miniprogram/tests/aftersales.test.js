const { has, install, openPage, settle, tap, text, texts, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const S = `${M}/service`
const ORDER = { order_no: 'MP1', store: 's1', status: 'completed', total: 1390, discount_total: 0,
                invoice: null, lines: [
                  { line_no: 1, name_zh: '可口可乐', name_en: 'Coke', qty: 2, returned_qty: 0, amount: 500 },
                  { line_no: 2, name_zh: '奥利奥', name_en: 'Oreo', qty: 1, returned_qty: 1, amount: 890 }] }
function request(status, extra = {}) {
  return { id: 7, store: 's1', order_no: 'MP1', kind: 'return', reason: 'damaged', description: '罐子瘪了',
           lines: [{ line_no: 1, qty: 1, amount: 250 }], photos: ['a1'], amount: 250, status,
           status_zh: '', decision_note: null, return_id: null, refund: null,
           created_at: '2026-12-05T10:00:00+08:00', decided_at: null, ...extra }
}

test('ask to return a line with a reason, a description and a photo; see it under review', async () => {
  let asked = false
  const photo = new Uint8Array([0xff, 0xd8, 0xff, 0xe0]).buffer
  const wx = install({ photo, storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: { data: ORDER },
    [`GET ${S}/aftersales`]: () => ({ data: { items: asked ? [request('requested')] : [] } }),
    [`POST ${S}/aftersales/photos`]: { status: 201, data: { id: 'a1', content_type: 'image/jpeg', size: 4, sha256: 'x' } },
    [`POST ${S}/aftersales`]: () => { asked = true; return { status: 201, data: request('requested') } },
  } })
  const page = await openPage('aftersales', { order_no: 'MP1' })
  // Only the line with units left to give back is offered.
  expect(texts(page, '.line-name')).toEqual(['☐ 可口可乐'])
  expect(text(page, '.no-requests')).toBe('暂无退换货申请')
  await tap(page, '.submit')
  expect(text(page, '.error')).toBe('请选择要退换的商品')
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])

  await tap(page, '.line-name')
  await tap(page, '.less')                             // 2 -> 1
  page.instance.pickReason({ detail: { value: '1' } })
  page.instance.onDescription({ detail: { value: ' 罐子瘪了 ' } })
  await tap(page, '.add-photo')
  const upload = wx.requests.find(r => r.path === `${S}/aftersales/photos`)
  expect(upload.query).toEqual({ order_no: 'MP1' })
  expect(upload.header['Content-Type']).toBe('application/octet-stream')
  expect(upload.data).toBe(photo)
  expect(text(page, '.photo-count')).toBe('1')
  await tap(page, '.submit')
  const ask = wx.requests.find(r => r.method === 'POST' && r.path === `${S}/aftersales`)
  expect(ask.data).toEqual({ order_no: 'MP1', kind: 'return', reason: 'damaged', description: '罐子瘪了',
                             lines: [{ line_no: 1, qty: 1 }], photo_ids: ['a1'] })
  expect(text(page, '.notice')).toBe('已提交，门店审核后处理')
  expect(texts(page, '.req-status')).toEqual(['待审核'])
  expect(has(page, '.withdraw')).toBe(true)
  expect(wx.unexpected).toEqual([])
})

test('a cancelled photo picker sends nothing; the bridge refusing a late return says why', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: { data: ORDER },
    [`GET ${S}/aftersales`]: { data: { items: [] } },
    [`POST ${S}/aftersales`]: { status: 409, data: { title: 'Conflict', detail: 'past the return period of 7 days' } },
  } })
  const page = await openPage('aftersales', { order_no: 'MP1' })
  await tap(page, '.add-photo')
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])
  expect(text(page, '.error')).toBeNull()
  await tap(page, '.line-name')
  await tap(page, '.submit')
  expect(text(page, '.error')).toBe('past the return period of 7 days')
})

test('my requests show the decision and the refund in English; an open one can be withdrawn', async () => {
  let withdrawn = false
  const wx = install({ language: 'en', storage: { ...SESSION }, replies: {
    [`GET ${S}/aftersales`]: () => ({ data: { items: [
      withdrawn ? request('cancelled') : request('requested'),
      request('approved', { id: 6, decision_note: 'Sorry about that', refund: { id: 3, status: 'succeeded', amount: 250 } }),
    ] } }),
    [`POST ${S}/aftersales/7/cancel`]: () => { withdrawn = true; return { data: request('cancelled') } },
  } })
  const page = await openPage('aftersales')
  expect(has(page, '.ask')).toBe(false)                 // no order: the list only
  expect(texts(page, '.req-status')).toEqual(['Under review', 'Approved'])
  expect(texts(page, '.req-refund')).toEqual(['Refund ¥2.50'])
  expect(texts(page, '.req-note')).toEqual(['Sorry about that'])
  await tap(page, '.withdraw')
  expect(texts(page, '.req-status')).toEqual(['Withdrawn', 'Approved'])
  expect(has(page, '.withdraw')).toBe(false)
  expect(wx.unexpected).toEqual([])
})
