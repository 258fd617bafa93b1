const { install, openPage, tap, text, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const field = (page, name, value) => page.instance.onField({ currentTarget: { dataset: { field: name } }, detail: { value } })

test('a company invoice is requested with its title, tax id and email', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    [`POST ${M}/orders/MP1/invoice`]: { status: 201, data: { status: 'requested', order_no: 'MP1' } },
  } })
  const page = await openPage('invoice', { order_no: 'MP1' })
  page.instance.pickKind({ detail: { value: 'company' } })
  field(page, 'title', '上海某某商贸有限公司')
  field(page, 'email', 'fapiao@example.com')
  await tap(page, '.submit')
  expect(wx.requests).toEqual([])                      // no tax id yet: nothing sent
  field(page, 'taxId', '91310000ma1fl1ab2c')
  await tap(page, '.submit')
  expect(wx.requests[0].data).toEqual({ kind: 'company', title: '上海某某商贸有限公司',
                                        email: 'fapiao@example.com', tax_id: '91310000MA1FL1AB2C' })
  expect(text(page, '.done')).toBe('已提交发票申请 (已申请)')
})

test('a second request is refused by the bridge and the page says why', async () => {
  install({ storage: { ...SESSION }, replies: {
    [`POST ${M}/orders/MP1/invoice`]: { status: 409, data: { title: 'Conflict', detail: 'order MP1 already has an invoice request' } },
  } })
  const page = await openPage('invoice', { order_no: 'MP1' })
  field(page, 'title', '张三')
  field(page, 'email', 'a@example.com')
  await tap(page, '.submit')
  expect(text(page, '.error')).toBe('order MP1 already has an invoice request')
})
