// FAQ: search the picked store's knowledge base (chain-wide articles too) and read an
// answer; with nothing typed, the store's list.
const api = require('../../lib/api.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

Component({
  data: { t: {}, query: '', hits: [], article: null, loaded: false, error: '' },
  methods: {
    onLoad() {
      track.pageView('pages/faq/index')
      localise(this, 'faqTitle')
      if (!session.requireLogin()) return null
      return this.search()
    },
    onInput(e) {
      this.setData({ query: e.detail.value })
    },
    async search() {
      const q = this.data.query.trim()
      try {
        const reply = await api.call('faq', { path: { store: session.store() },
                                              query: { q: q || undefined, limit: 20 } })
        this.setData({ hits: reply.items.map(h => ({ id: h.id, title: h.title, snippet: h.snippet })),
                       article: null, loaded: true, error: '' })
        if (q) track.search(q, reply.items.length)
      } catch (err) {
        fail(this, err)
      }
    },
    async open(e) {
      try {
        const a = await api.call('faqArticle', { path: { article_id: e.currentTarget.dataset.id } })
        // body_html is the bridge's sanitised article: rich-text shows it, never runs it.
        this.setData({ article: { id: a.id, title: a.title || '', body: a.body_html || '' }, error: '' })
      } catch (err) {
        fail(this, err)
      }
    },
    back() {
      this.setData({ article: null })
    },
  },
})
