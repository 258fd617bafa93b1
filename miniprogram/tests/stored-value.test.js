const { install, openPage, tap, text, SESSION } = require('./harness.js')

const M = '/api/v1/mp'

function order(status) {
  return { order_no: 'MP1', store: 's1', status, total: 500, discount_total: 0, invoice: null,
           lines: [{ line_no: 1, name_zh: '可口可乐', name_en: 'Coke', qty: 2, amount: 500 }] }
}

test('an order is paid from the balance with the payment password', async () => {
  let status = 'created'
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: () => ({ data: order(status) }),
    [`POST ${M}/orders/MP1/pay/stored-value`]: req => {
      if (req.data.password !== '205813') return { status: 403, data: { title: 'Forbidden', detail: 'wrong payment password (4 tries left)' } }
      status = 'paid'
      return { data: { order_no: 'MP1', status: 'paid', amount: 500, currency: 'CNY', balance: 1234 } }
    },
  } })
  const page = await openPage('order', { order_no: 'MP1' })
  page.instance.onPassword({ detail: { value: '12' } })
  await tap(page, '.pay-balance')
  expect(text(page, '.error')).toBe('支付密码为6位数字')
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])
  page.instance.onPassword({ detail: { value: '000000' } })
  await tap(page, '.pay-balance')
  expect(text(page, '.error')).toBe('wrong payment password (4 tries left)')
  expect(page.instance.data.password).toBe('')        // never kept after it is sent
  page.instance.onPassword({ detail: { value: '205813' } })
  await tap(page, '.pay-balance')
  expect(text(page, '.notice')).toBe('余额 ¥12.34')
  expect(text(page, '.status')).toBe('已支付')
  expect(wx.called('requestPayment')).toEqual([])
  expect(JSON.stringify(wx.storage)).not.toContain('205813')
})

test('a locked password says so', async () => {
  install({ language: 'en', storage: { ...SESSION }, replies: {
    [`GET ${M}/orders/MP1`]: { data: order('created') },
    [`POST ${M}/orders/MP1/pay/stored-value`]: { status: 429, data: { title: 'Too many requests', detail: 'locked' } },
  } })
  const page = await openPage('order', { order_no: 'MP1' })
  page.instance.onPassword({ detail: { value: '205813' } })
  await tap(page, '.pay-balance')
  expect(text(page, '.error')).toBe('Too many wrong payment passwords; locked, try again later')
})

test('setting the payment password sends the current one only when given', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    [`PUT ${M}/member/pay-password`]: { data: { set: true } },
  } })
  const page = await openPage('paypassword')
  const field = (name, value) => page.instance.onField({ currentTarget: { dataset: { field: name } }, detail: { value } })
  field('password', '2058')
  await tap(page, '.save')
  expect(wx.requests).toEqual([])
  field('password', '205813')
  await tap(page, '.save')
  expect(wx.requests[0].data).toEqual({ password: '205813' })
  expect(text(page, '.done')).toBe('支付密码已设置')
})
