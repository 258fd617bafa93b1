const { has, install, openPage, tap, text, texts, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
function documentWith(...paths) {
  const out = {}
  paths.forEach(([method, path]) => { out[path] = { ...(out[path] || {}), [method.toLowerCase()]: {} } })
  return { paths: out }
}
const SERVED = documentWith(['GET', `${M}/surveys`], ['POST', `${M}/surveys/{survey_id}/answers`])
const SURVEY = { id: 3, store: null, kind: 'csat', title_zh: '购物满意度', title_en: 'How was it?',
                 question_zh: '您对本次购物满意吗？', question_en: 'Were you happy with this visit?',
                 scale_min: 1, scale_max: 5, answer_days: 7, status: 'open', created_at: '2026-12-01T00:00:00+08:00' }

test('a bridge without the survey API: the page says so and asks nothing more', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    'GET /api/v1/openapi.json': { data: documentWith(['GET', `${M}/orders`]) } } })
  const page = await openPage('surveys')
  expect(text(page, '.not-served')).toBe('暂不可用')
  expect(wx.requests.map(r => r.path)).toEqual(['/api/v1/openapi.json'])
  expect(has(page, '.error')).toBe(false)
})

test('answer a survey about an order: a score is needed, then it is sent and leaves the list', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    'GET /api/v1/openapi.json': { data: SERVED },
    [`GET ${M}/surveys`]: { data: { items: [{ survey: SURVEY, order_no: 'MP1', store: 's1',
                                              paid_at: '2026-12-05T10:00:00+08:00' }] } },
    [`POST ${M}/surveys/3/answers`]: { status: 201, data: { id: 1, survey_id: 3, order_no: 'MP1', store: 's1',
                                                           month: '2026-12', score: 4, comment: '很快', created_at: '2026-12-05T11:00:00+08:00' } },
  } })
  const page = await openPage('surveys')
  expect(text(page, '.survey-question')).toBe('您对本次购物满意吗？')
  expect(texts(page, '.score')).toEqual(['1', '2', '3', '4', '5'])
  await tap(page, '.answer')
  expect(text(page, '.error')).toBe('请选择评分')
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])
  await tap(page, '.score-4')
  page.instance.onComment({ currentTarget: { dataset: { key: '3:MP1' } }, detail: { value: ' 很快 ' } })
  await tap(page, '.answer')
  const sent = wx.requests.find(r => r.method === 'POST')
  expect(sent.path).toBe(`${M}/surveys/3/answers`)
  expect(sent.data).toEqual({ order_no: 'MP1', score: 4, comment: '很快' })
  expect(text(page, '.notice')).toBe('感谢您的反馈')
  expect(has(page, '.survey')).toBe(false)
  expect(wx.unexpected.filter(u => !u.includes('/analytics/'))).toEqual([])
})

test('not a member: the page offers to join, in English too', async () => {
  install({ language: 'en', storage: { ...SESSION }, replies: {
    'GET /api/v1/openapi.json': { data: SERVED },
    [`GET ${M}/surveys`]: { status: 404, data: { title: 'Not Found', detail: 'not a member yet' } },
  } })
  const page = await openPage('surveys')
  expect(text(page, '.not-member-text')).toBe('You are not a member yet')
  expect(has(page, '.no-surveys')).toBe(false)
})
