const { install, openPage, texts, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const COUPONS = { total: 2, items: [
  { id: 1, template_id: 't1', name_zh: '满50减10', name_en: '10 off 50', kind: 'fixed', value: 1000,
    cap: null, threshold: 5000, stackable: false, status: 'unused', channel: 'claim', order_no: null,
    valid_from: '2026-12-01T00:00:00+08:00', valid_until: '2026-12-31T23:59:59+08:00', claimed_at: '2026-12-01T10:00:00+08:00' },
  { id: 2, template_id: 't2', name_zh: '九折券', name_en: '10% off', kind: 'percentage', value: 1000,
    cap: 2000, threshold: null, stackable: false, status: 'used', channel: 'issue', order_no: 'MP1',
    valid_from: null, valid_until: null, claimed_at: '2026-12-01T10:00:00+08:00' },
] }

test('coupons show their worth, threshold and status in the client language', async () => {
  install({ storage: { ...SESSION }, replies: { [`GET ${M}/coupons`]: { data: COUPONS } } })
  let page = await openPage('coupons')
  expect(texts(page, '.coupon .name')).toEqual(['满50减10', '九折券'])
  expect(texts(page, '.coupon .worth')).toEqual(['减¥10.00', '9折'])
  expect(texts(page, '.coupon .status')).toEqual(['可使用', '已使用'])
  install({ language: 'en', storage: { ...SESSION }, replies: { [`GET ${M}/coupons`]: { data: COUPONS } } })
  page = await openPage('coupons')
  expect(texts(page, '.coupon .worth')).toEqual(['¥10.00 off', '10% off'])
})

test('not a member: the wallet offers to join', async () => {
  install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/coupons`]: { status: 404, data: { title: 'Not Found', detail: 'not a member' } } } })
  const page = await openPage('coupons')
  expect(texts(page, '.not-member-text')).toEqual(['您还不是会员'])
  expect(texts(page, '.coupon')).toEqual([])
})
