const { has, install, openPage, tap, text, texts, SESSION } = require('./harness.js')

const S = '/api/v1/mp/service'
function message(seq, kind, body) {
  return { type: 'message', conversation_id: 5, seq, sender_kind: kind, sender: kind === 'customer' ? 'mp:o1' : 'clerk1',
           body, client_msg_id: null, created_at: `2026-12-05T10:0${seq}:00+08:00`, attachment: null }
}
const CONV = { id: 5, store: 's1', kind: 'question', channel: 'chat', status: 'open', category: null,
               subject: '有没有无糖可乐', order_no: null, last_seq: 0,
               created_at: '2026-12-05T10:00:00+08:00', updated_at: '2026-12-05T10:00:00+08:00' }

test('start a chat with the store, send once, and get the reply by polling after the last seq', async () => {
  const log = []
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`GET ${S}/conversations`]: { data: { total: 0, items: [] } },
    [`POST ${S}/conversations`]: { status: 201, data: CONV },
    [`POST ${S}/conversations/5/messages`]: req => { log.push(message(1, 'customer', req.data.body)); return { status: 201, data: { conversation_id: 5, seq: 1, client_msg_id: req.data.client_msg_id } } },
    [`GET ${S}/conversations/5/messages`]: req => ({ data: { items: log.filter(m => m.seq > Number(req.query.after_seq)) } }),
  } })
  const page = await openPage('chat', { order_no: 'MP1' })
  expect(text(page, '.empty')).toBe('暂无咨询记录')
  page.instance.onField({ currentTarget: { dataset: { field: 'subject' } }, detail: { value: '有没有无糖可乐' } })
  await tap(page, '.start')
  const started = wx.requests.find(r => r.method === 'POST' && r.path === `${S}/conversations`)
  expect(started.data).toEqual({ store: 's1', subject: '有没有无糖可乐', order_no: 'MP1' })
  expect(text(page, '.conv-title')).toBe('有没有无糖可乐')

  page.instance.onField({ currentTarget: { dataset: { field: 'text' } }, detail: { value: '  在吗 ' } })
  await tap(page, '.send')
  const sent = wx.requests.filter(r => r.method === 'POST' && r.path.endsWith('/messages'))
  expect(sent.length).toBe(1)
  expect(sent[0].data.body).toBe('在吗')
  expect(sent[0].data.client_msg_id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/)
  expect(texts(page, '.message-body')).toEqual(['在吗'])

  log.push(message(2, 'staff', '有的，3元一罐'))
  await page.instance.poll()
  expect(wx.requests.filter(r => r.path === `${S}/conversations/5/messages` && r.method === 'GET').at(-1).query)
    .toEqual({ after_seq: '1' })
  expect(texts(page, '.message-body')).toEqual(['在吗', '有的，3元一罐'])
  expect(texts(page, '.theirs .muted')).toEqual(['客服 10:02'])
  expect(page.instance.timer).toBeTruthy()
  page.instance.onUnload()
  expect(page.instance.timer).toBeNull()           // no polling once the page is gone
  expect(wx.unexpected.filter(u => !u.includes('/analytics/'))).toEqual([])
})

test('an empty message is not sent; a lost session goes to login and stops polling', async () => {
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`GET ${S}/conversations`]: { data: { total: 1, items: [CONV] } },
    [`GET ${S}/conversations/5/messages`]: { status: 401, data: { title: 'Unauthorized' } },
  } })
  const page = await openPage('chat')
  expect(texts(page, '.conv-subject')).toEqual(['有没有无糖可乐'])
  await tap(page, '.conversation')
  expect(wx.called('redirectTo')).toEqual([{ url: '/pages/login/index' }])
  expect(page.instance.timer).toBeNull()
  await tap(page, '.send')
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])
  expect(has(page, '.message')).toBe(false)
})
