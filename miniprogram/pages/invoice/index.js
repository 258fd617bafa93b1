// Asking for a 发票 on one of my orders: personal or company (with the tax id).
const api = require('../../lib/api.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

// The shape of a unified social credit code (统一社会信用代码) or an older tax id.
const TAX_ID = /^[0-9A-HJ-NPQRTUWXY]{15,20}$/

Component({
  data: { t: {}, orderNo: '', kind: 'personal', title: '', taxId: '', email: '',
          busy: false, done: '', error: '' },
  methods: {
    onLoad(options) {
      track.pageView('pages/invoice/index')
      localise(this, 'invoiceTitle')
      if (!session.requireLogin()) return null
      this.setData({ orderNo: options.order_no })
      return null
    },
    pickKind(e) {
      this.setData({ kind: e.detail.value })
    },
    onField(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value.trim() })
    },
    body() {
      const d = this.data
      const body = { kind: d.kind, title: d.title, email: d.email }
      if (d.kind === 'company') body.tax_id = d.taxId.toUpperCase()
      return body
    },
    async submit() {
      const d = this.data
      if (d.busy) return
      if (!d.title || !d.email || (d.kind === 'company' && !TAX_ID.test(d.taxId.toUpperCase()))) {
        this.setData({ error: `${d.t.invoiceTitleField} / ${d.t.email}${d.kind === 'company' ? ' / ' + d.t.taxId : ''}` })
        return
      }
      this.setData({ busy: true, error: '' })
      try {
        const inv = await api.call('requestInvoice', { path: { order_no: d.orderNo }, body: this.body() })
        this.setData({ busy: false, done: d.t.invoiceStatus[inv.status] || d.t.invoiceRequested })
      } catch (err) {
        fail(this, err)
      }
    },
  },
})
