// My coupons: what each is worth, its threshold, status and validity.
const api = require('../../lib/api.js')
const i18n = require('../../lib/i18n.js')
const { yuan } = require('../../lib/money.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

function worth(c, t) {
  if (c.kind === 'percentage') {
    const off = c.value / 100                    // basis points -> percent
    return i18n.lang() === 'en' ? `${off}% ${t.off}` : `${(10000 - c.value) / 1000}折`
  }
  return i18n.lang() === 'en' ? `${yuan(c.value)} ${t.off}` : `${t.off}${yuan(c.value)}`
}

Component({
  data: { t: {}, coupons: [], loaded: false, notMember: false, error: '' },
  methods: {
    onLoad() {
      track.pageView('pages/coupons/index')
      localise(this, 'couponsTitle')
      if (!session.requireLogin()) return null
      return this.load()
    },
    async load() {
      const t = this.data.t
      try {
        const reply = await api.call('coupons')
        const coupons = reply.items.map(c => ({
          id: c.id, name: i18n.pick(c.name_zh, c.name_en), worth: worth(c, t),
          threshold: c.threshold ? `${t.minSpend}${yuan(c.threshold)}` : '',
          status: t.couponStatus[c.status] || c.status, used: c.status !== 'unused',
          until: (c.valid_until || '').slice(0, 10),
        }))
        this.setData({ coupons, loaded: true, error: '' })
      } catch (err) {
        if (err.status === 404) this.setData({ notMember: true, loaded: true })
        else fail(this, err)
      }
    },
    join() {
      wx.navigateTo({ url: '/pages/login/index' })
    },
  },
})
