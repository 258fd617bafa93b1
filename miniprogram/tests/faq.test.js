const { install, openPage, settle, tap, text, texts, SESSION } = require('./harness.js')

const S = '/api/v1/mp/service'
const HITS = { query: null, items: [
  { id: 1, category: 'payment', title: '怎么开发票？', snippet: '在订单页申请', score: null },
  { id: 2, category: 'returns', title: '退货要多久？', snippet: '7天内', score: null }] }

test('the store FAQ lists, searches and opens an answer', async () => {
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`GET ${S}/stores/s1/faq`]: req => ({ data: req.query.q
      ? { query: req.query.q, items: HITS.items.slice(1) } : HITS }),
    [`GET ${S}/faq/2`]: { data: { id: 2, store: null, category: 'returns', title: '退货要多久？',
                                  body_html: '<p>收货后7天内可退</p>', updated_at: '2026-12-01T00:00:00+08:00' } },
  } })
  const page = await openPage('faq')
  expect(texts(page, '.hit-title')).toEqual(['怎么开发票？', '退货要多久？'])
  page.instance.onInput({ detail: { value: ' 退货 ' } })
  await tap(page, '.search')
  expect(wx.requests.filter(r => r.path === `${S}/stores/s1/faq`).at(-1).query).toEqual({ q: '退货', limit: '20' })
  expect(texts(page, '.hit-title')).toEqual(['退货要多久？'])
  await tap(page, '.hit')
  expect(text(page, '.article-title')).toBe('退货要多久？')
  expect(page.instance.data.article.body).toBe('<p>收货后7天内可退</p>')
  await tap(page, '.back')
  expect(texts(page, '.hit-title')).toEqual(['退货要多久？'])
  expect(wx.unexpected.filter(u => !u.includes('/analytics/'))).toEqual([])
})

test('nothing found says so in the client language', async () => {
  install({ language: 'en', storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`GET ${S}/stores/s1/faq`]: { data: { query: 'zzz', items: [] } },
  } })
  const page = await openPage('faq')
  await settle()
  expect(text(page, '.empty')).toBe('No matching question')
})
