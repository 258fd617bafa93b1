// Appointments (SVC-5): the picked store's bookable services with their free places, my
// bookings, booking and cancelling (the bridge enforces the booking and cancel windows).
const api = require('../../lib/api.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

function when(iso) {
  return String(iso || '').slice(5, 16).replace('T', ' ')
}

Component({
  data: { t: {}, services: [], bookings: [], loaded: false, busy: false, notice: '', error: '' },
  methods: {
    onLoad() {
      track.pageView('pages/appointments/index')
      localise(this, 'appointments')
      if (!session.requireLogin()) return null
      return this.load()
    },
    async load() {
      try {
        const [offered, mine] = await Promise.all([
          api.call('bookable', { path: { store: session.store() } }), api.call('bookings')])
        this.setData({
          services: offered.items.map(s => ({ id: s.id, name: s.name, slots: s.slots.map(sl => ({
            id: sl.id, when: `${when(sl.starts_at)}-${when(sl.ends_at).slice(-5)}`, free: sl.free })) })),
          bookings: mine.items.filter(b => b.status === 'booked').map(b => ({
            id: b.id, when: when(b.slot.starts_at) })),
          loaded: true, error: '',
        })
      } catch (err) {
        fail(this, err)
      }
    },
    async book(e) {
      if (this.data.busy) return
      this.setData({ busy: true, error: '', notice: '' })
      try {
        await api.call('book', { body: { slot_id: Number(e.currentTarget.dataset.slot) } })
        this.setData({ busy: false, notice: this.data.t.booked })
        await this.load()
      } catch (err) {
        fail(this, err)
      }
    },
    async cancel(e) {
      if (this.data.busy) return
      this.setData({ busy: true, error: '', notice: '' })
      try {
        await api.call('cancelBooking', { path: { booking_id: e.currentTarget.dataset.id } })
        this.setData({ busy: false })
        await this.load()
      } catch (err) {
        fail(this, err)
      }
    },
  },
})
