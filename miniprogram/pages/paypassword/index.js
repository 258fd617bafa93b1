// Setting or changing the payment password for stored value (the bridge keeps only its
// argon2 hash; changing a set one needs the current one).
const api = require('../../lib/api.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

const SIX_DIGITS = /^[0-9]{6}$/

Component({
  data: { t: {}, password: '', current: '', busy: false, done: false, error: '' },
  methods: {
    onLoad() {
      track.pageView('pages/paypassword/index')
      localise(this, 'payPasswordTitle')
      session.requireLogin()
      return null
    },
    onField(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value })
    },
    async save() {
      const d = this.data
      if (d.busy) return
      if (!SIX_DIGITS.test(d.password) || (d.current && !SIX_DIGITS.test(d.current))) {
        this.setData({ error: d.t.passwordFormat })
        return
      }
      const body = { password: d.password }
      if (d.current) body.current_password = d.current
      this.setData({ busy: true, error: '' })
      try {
        await api.call('setPayPassword', { body })
        this.setData({ busy: false, done: true, password: '', current: '' })
      } catch (err) {
        if (err.status === 429) this.setData({ busy: false, error: d.t.passwordLocked })
        else fail(this, err)
      }
    },
  },
})
