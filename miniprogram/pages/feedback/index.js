// A complaint or a suggestion to the picked store (SVC-3), optionally about one of my
// orders; staff answer it in the service inbox.
const api = require('../../lib/api.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

const CATEGORIES = ['product_quality', 'price', 'service_attitude', 'checkout', 'delivery',
                    'hygiene', 'environment', 'payment', 'other']

Component({
  data: { t: {}, kind: 'complaint', categories: [], categoryIndex: 8, subject: '', text: '',
          orderNo: '', busy: false, done: '', error: '' },
  methods: {
    onLoad(options) {
      track.pageView('pages/feedback/index')
      const t = localise(this, 'feedback')
      if (!session.requireLogin()) return null
      this.setData({ categories: CATEGORIES.map(c => t.categories[c]),
                     orderNo: (options && options.order_no) || '' })
      return null
    },
    pickKind(e) {
      this.setData({ kind: e.detail.value })
    },
    pickCategory(e) {
      this.setData({ categoryIndex: Number(e.detail.value) })
    },
    onField(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value.trim() })
    },
    async submit() {
      const d = this.data
      if (d.busy) return
      if (!d.subject || !d.text) {
        this.setData({ error: d.t.feedbackNeeded })
        return
      }
      const body = { store: session.store(), kind: d.kind, category: CATEGORIES[d.categoryIndex],
                     subject: d.subject, text: d.text }
      if (d.orderNo) body.order_no = d.orderNo
      this.setData({ busy: true, error: '' })
      try {
        const filed = await api.call('complain', { body })
        this.setData({ busy: false, done: `${d.t.feedbackSent} (#${filed.id})` })
      } catch (err) {
        fail(this, err)
      }
    },
  },
})
