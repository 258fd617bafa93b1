const { install, openPage, tap, text, texts, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const slot = (id, hour, free) => ({ id, starts_at: `2026-12-06T${hour}:00:00+08:00`,
                                    ends_at: `2026-12-06T${hour}:30:00+08:00`, capacity: 2, booked: 2 - free, free })

test('book a free place of the picked store, then cancel it', async () => {
  let booked = []
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1' }, replies: {
    [`GET ${M}/service/stores/s1/appointment-services`]: { data: { items: [
      { id: 7, store: 's1', name: '手机贴膜', description: null, book_before_min: 30, cancel_before_min: 60,
        max_active_per_member: 1, slots: [slot(70, '10', 0), slot(71, '11', 2)] }] } },
    [`GET ${M}/service/appointments`]: () => ({ data: { items: booked } }),
    [`POST ${M}/service/appointments`]: req => {
      booked = [{ id: 5, slot: slot(req.data.slot_id, '11', 1), service_id: 7, status: 'booked', note: null,
                  created_at: '2026-12-05T10:00:00+08:00', cancelled_at: null }]
      return { status: 201, data: booked[0] }
    },
    [`POST ${M}/service/appointments/5/cancel`]: () => {
      booked = [{ ...booked[0], status: 'cancelled' }]
      return { data: booked[0] }
    },
  } })
  const page = await openPage('appointments')
  expect(texts(page, '.service-name')).toEqual(['手机贴膜'])
  expect(texts(page, '.slot .book')).toEqual(['预约'])            // the full slot has no button
  await tap(page, '.book')
  expect(wx.requests.find(r => r.method === 'POST').data).toEqual({ slot_id: 71 })
  expect(text(page, '.notice')).toBe('预约成功')
  expect(texts(page, '.booking-when')).toEqual(['12-06 11:00'])
  await tap(page, '.cancel')
  expect(texts(page, '.booking-when')).toEqual([])
  expect(wx.unexpected).toEqual([])
})
