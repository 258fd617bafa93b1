const { install, openPage, tap, text, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const field = (page, name, value) => page.instance.onField({ currentTarget: { dataset: { field: name } }, detail: { value } })

test('a complaint about an order reaches the picked store', async () => {
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`POST ${M}/service/complaints`]: { status: 201, data: { id: 42, store: 's1', kind: 'complaint' } },
  } })
  const page = await openPage('feedback', { order_no: 'MP1' })
  await tap(page, '.submit')
  expect(text(page, '.error')).toBe('请填写标题和说明')
  expect(wx.requests).toEqual([])
  page.instance.pickCategory({ detail: { value: '0' } })
  field(page, 'subject', ' 牛奶过期 ')
  field(page, 'text', '收到的牛奶已过保质期')
  await tap(page, '.submit')
  expect(wx.requests[0].data).toEqual({ store: 's1', kind: 'complaint', category: 'product_quality',
                                        subject: '牛奶过期', text: '收到的牛奶已过保质期', order_no: 'MP1' })
  expect(text(page, '.done')).toBe('已提交，门店会尽快处理 (#42)')
})

test('a suggestion in English, refused by the bridge, says why', async () => {
  install({ language: 'en', storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`POST ${M}/service/complaints`]: { status: 429, data: { title: 'Too many requests', detail: 'too many complaints today' } },
  } })
  const page = await openPage('feedback')
  expect(page.instance.data.categories[8]).toBe('Other')
  page.instance.pickKind({ detail: { value: 'suggestion' } })
  field(page, 'subject', 'More parking')
  field(page, 'text', 'Please')
  await tap(page, '.submit')
  expect(text(page, '.error')).toBe('too many complaints today')
})
