/*
 * flamesvg.c - the flame graph as one self-contained SVG file: inline CSS
 * and JavaScript, no external resource. Root at the bottom, callees above,
 * width proportional to the value. Click a frame to zoom into it (its
 * ancestors stay, dimmed, as full-width bars; click one or "Reset Zoom"
 * to go back), "Search" (or Ctrl-F) highlights frames whose name matches a
 * regular expression and shows the share they cover, hovering shows the
 * name, value, count and percentage (in the frame's title, the browser's
 * tooltip, and in the line at the bottom). Labels are cut with ".." to fit.
 * Frames narrower than 0.1 pixel are left out (as flamegraph.pl does), which
 * bounds the file size whatever the number of stacks.
 */
#include "render/cli_render.h"
#include "util/cli.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 1200.0
#define XPAD 10.0
#define FRAME_H 16.0
#define TOP 60.0
#define BOTTOM 40.0
#define CHAR_W 7.08 /* 0.59 * 12 px, Verdana's average, as flamegraph.pl */
#define MIN_W 0.1

static const char css[] =
    "text{font-family:Verdana,Helvetica,sans-serif;font-size:12px;fill:#000}\n"
    "#title{font-size:17px;text-anchor:middle}\n"
    "#subtitle{fill:#555;text-anchor:middle}\n"
    ".btn{cursor:pointer;fill:#226}\n"
    ".btn:hover{text-decoration:underline}\n"
    ".hide{display:none}\n"
    "g.f rect{stroke:#fff;stroke-width:0.3}\n"
    "g.f:hover rect{stroke:#000;stroke-width:0.8;cursor:pointer}\n"
    "g.f text{pointer-events:none}\n"
    "g.parent{opacity:0.5}\n";

static const char script[] =
    "var W=" "1200" ",XPAD=10,CHARW=7.08,frames=[],details,matched,unzoomBtn,clearBtn;\n"
    "function attr(g,n){return parseFloat(g.getAttribute(n));}\n"
    "function init(evt){if(frames.length)return;\n"
    " details=document.getElementById('details');matched=document.getElementById('matched');\n"
    " unzoomBtn=document.getElementById('unzoom');clearBtn=document.getElementById('clear');\n"
    " var gs=document.querySelectorAll('g.f');\n"
    " for(var i=0;i<gs.length;i++){var g=gs[i];frames.push(g);\n"
    "  g.addEventListener('click',function(e){zoom(this);});\n"
    "  g.addEventListener('mouseover',function(e){details.textContent=this.querySelector('title').textContent;});\n"
    "  g.addEventListener('mouseout',function(e){details.textContent=' ';});}\n"
    " document.getElementById('search').addEventListener('click',searchPrompt);\n"
    " clearBtn.addEventListener('click',clearSearch);\n"
    " unzoomBtn.addEventListener('click',unzoom);\n"
    " window.addEventListener('keydown',function(e){\n"
    "  if((e.ctrlKey||e.metaKey)&&e.key==='f'){e.preventDefault();searchPrompt();}\n"
    "  else if(e.key==='Escape'){clearSearch();unzoom();}});\n"
    " relabel();\n"
    "}\n"
    "function fit(name,px){var n=Math.floor((px-6)/CHARW);if(n<3)return '';\n"
    " if(name.length<=n)return name;return name.substring(0,n-2)+'..';}\n"
    "function place(g,x,w){var r=g.querySelector('rect'),t=g.querySelector('text');\n"
    " r.setAttribute('x',x.toFixed(2));r.setAttribute('width',w.toFixed(2));\n"
    " t.setAttribute('x',(x+3).toFixed(2));}\n"
    "function relabel(){for(var i=0;i<frames.length;i++){var g=frames[i];\n"
    " var w=parseFloat(g.querySelector('rect').getAttribute('width'));\n"
    " g.querySelector('text').textContent=fit(g.getAttribute('data-n'),w);}}\n"
    "function zoom(z){var x0=attr(z,'data-x'),w0=attr(z,'data-w'),d0=attr(z,'data-d');\n"
    " var s=(W-2*XPAD)/w0;\n"
    " for(var i=0;i<frames.length;i++){var g=frames[i],x=attr(g,'data-x'),w=attr(g,'data-w'),d=attr(g,'data-d');\n"
    "  g.classList.remove('parent','hide');\n"
    "  if(d<d0&&x<=x0&&x+w>=x0+w0){g.classList.add('parent');place(g,XPAD,W-2*XPAD);}\n"
    "  else if(d>=d0&&x>=x0&&x+w<=x0+w0*(1+1e-9)){place(g,XPAD+(x-x0)*s,w*s);}\n"
    "  else g.classList.add('hide');}\n"
    " unzoomBtn.classList.toggle('hide',d0==0);relabel();}\n"
    "function unzoom(){zoom(frames[0]);}\n"
    "function searchPrompt(){var t=prompt('Search frames (regular expression):','');if(t)search(t);}\n"
    "function search(term){var re;try{re=new RegExp(term);}catch(e){alert('Bad regular expression: '+e.message);return;}\n"
    " var spans=[],root=attr(frames[0],'data-w');\n"
    " for(var i=0;i<frames.length;i++){var g=frames[i],r=g.querySelector('rect');\n"
    "  if(re.test(g.getAttribute('data-n'))){r.setAttribute('fill','rgb(230,0,230)');\n"
    "   spans.push([attr(g,'data-x'),attr(g,'data-x')+attr(g,'data-w')]);}\n"
    "  else r.setAttribute('fill',g.getAttribute('data-c'));}\n"
    " spans.sort(function(a,b){return a[0]-b[0];});var sum=0,end=-1;\n"
    " for(var j=0;j<spans.length;j++){var a=Math.max(spans[j][0],end);if(spans[j][1]>a){sum+=spans[j][1]-a;end=spans[j][1];}}\n"
    " matched.textContent='Matched: '+(root>0?(100*sum/root).toFixed(2):'0')+'% ('+term+')';\n"
    " clearBtn.classList.remove('hide');}\n"
    "function clearSearch(){for(var i=0;i<frames.length;i++){var g=frames[i];\n"
    " g.querySelector('rect').setAttribute('fill',g.getAttribute('data-c'));}\n"
    " matched.textContent=' ';clearBtn.classList.add('hide');}\n";

/* ---- text ---- */

/* Writes s as XML text: escaped, control characters and invalid UTF-8
 * replaced by '?'. At most max bytes of s. */
static void xml(FILE *out, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i] && i < max; i++) {
        unsigned char c = p[i];
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4 : 0;
        bool ok = n > 0 && (n == 1 || c >= 0xc2);
        for (size_t k = 1; ok && k < n; k++)
            ok = (p[i + k] & 0xc0) == 0x80;
        if (!ok || (c < 0x20 && c != '\t')) {
            fputc('?', out);
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fwrite(p + i, 1, n, out); i += n - 1; break;
        }
    }
}

void cli_flame_label(char *buf, size_t len, const char *name, double px)
{
    long n = (long)((px - 6) / CHAR_W);
    size_t l = strlen(name);
    if (n < 3 || len < 4) {
        buf[0] = '\0';
        return;
    }
    if (l <= (size_t)n) {
        snprintf(buf, len, "%s", name);
        return;
    }
    size_t keep = (size_t)n - 2;
    while (keep > 0 && ((unsigned char)name[keep] & 0xc0) == 0x80) /* not inside a character */
        keep--;
    snprintf(buf, len, "%.*s..", (int)keep, name);
}

/* ---- frames ---- */

/* flamegraph.pl's "hot" palette, stable per name. */
static void color(char *buf, size_t len, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *s = name; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    double a = (double)(h & 0xff) / 255, b = (double)(h >> 8 & 0xff) / 255,
           c = (double)(h >> 16 & 0xff) / 255;
    snprintf(buf, len, "rgb(%d,%d,%d)", 205 + (int)(50 * a), (int)(230 * b), (int)(55 * c));
}

static void frame_title(FILE *out, const cli_flame *f, const cli_fnode *n, const char *name,
                        const cli_flame_meta *m)
{
    char v[64], pct[16];
    cli_scaled_label(v, sizeof v, n->value, m->unit, "auto");
    cli_percentage(pct, sizeof pct, n->value, f->node[0].value);
    xml(out, name, 4096);
    fprintf(out, " (%s", v);
    if (f->node[0].count >= 0 && m->count_name)
        fprintf(out, ", %lld %s", (long long)n->count, m->count_name);
    fprintf(out, ", %s)", pct + strspn(pct, " "));
}

static void frame(FILE *out, const cli_flame *f, uint32_t i, const cli_flame_meta *m, double scale)
{
    const cli_fnode *n = &f->node[i];
    const char *name = i == 0 ? "all" : f->g->name[n->name];
    char fill[32], label[512];
    double x = XPAD + (double)n->x * scale, w = (double)n->value * scale;
    double y = TOP + (double)(f->max_depth - n->depth) * FRAME_H;
    color(fill, sizeof fill, name);
    cli_flame_label(label, sizeof label, name, w);
    fprintf(out, "<g class=\"f\" data-x=\"%lld\" data-w=\"%lld\" data-d=\"%u\" data-c=\"%s\" data-n=\"",
            (long long)n->x, (long long)n->value, n->depth, fill);
    xml(out, name, 4096);
    fprintf(out, "\"><title>");
    frame_title(out, f, n, name, m);
    fprintf(out, "</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\" "
            "rx=\"2\" ry=\"2\"/><text x=\"%.2f\" y=\"%.1f\">", x, y, w, FRAME_H - 1, fill,
            x + 3, y + FRAME_H - 4.5);
    xml(out, label, sizeof label);
    fprintf(out, "</text></g>\n");
}

/* Depth-first, skipping frames (and so their children) under MIN_W. */
static int frames(FILE *out, const cli_flame *f, const cli_flame_meta *m, double scale)
{
    uint32_t *stack = malloc((f->n + 1) * sizeof *stack);
    size_t sp = 0;
    if (stack == NULL)
        return -1;
    stack[sp++] = 0;
    while (sp > 0) {
        uint32_t i = stack[--sp];
        frame(out, f, i, m, scale);
        for (uint32_t c = f->node[i].child; c != 0; c = f->node[c].next) {
            if ((double)f->node[c].value * scale >= MIN_W)
                stack[sp++] = c;
        }
    }
    free(stack);
    return 0;
}

static void header(FILE *out, const cli_flame_meta *m, double height)
{
    fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "onload=\"init(evt)\" xmlns=\"http://www.w3.org/2000/svg\">\n"
            "<defs><linearGradient id=\"bg\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
            "<stop stop-color=\"#eeeeee\" offset=\"5%%\"/><stop stop-color=\"#eeeeb0\" offset=\"95%%\"/>"
            "</linearGradient></defs>\n<style type=\"text/css\"><![CDATA[\n",
            WIDTH, height, WIDTH, height);
    fputs(css, out);
    fputs("]]></style>\n<script type=\"text/ecmascript\"><![CDATA[\n", out);
    fputs(script, out);
    fprintf(out, "]]></script>\n<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"url(#bg)\"/>\n"
            "<text id=\"title\" x=\"%.0f\" y=\"24\">", WIDTH, height, WIDTH / 2);
    xml(out, m->title ? m->title : "Flame Graph", 512);
    fprintf(out, "</text>\n<text id=\"subtitle\" x=\"%.0f\" y=\"44\">", WIDTH / 2);
    xml(out, m->subtitle ? m->subtitle : "", 512);
    fprintf(out, "</text>\n<text id=\"unzoom\" class=\"btn hide\" x=\"%.0f\" y=\"24\">Reset Zoom</text>\n"
            "<text id=\"search\" class=\"btn\" x=\"%.0f\" y=\"24\" text-anchor=\"end\">Search</text>\n"
            "<text id=\"clear\" class=\"btn hide\" x=\"%.0f\" y=\"44\" text-anchor=\"end\">Clear search</text>\n",
            XPAD, WIDTH - XPAD, WIDTH - XPAD);
}

int cli_flame_svg(FILE *out, const cli_flame *f, const cli_flame_meta *m)
{
    double height = TOP + (double)(f->max_depth + 1) * FRAME_H + BOTTOM;
    double scale = f->node[0].value > 0 ? (WIDTH - 2 * XPAD) / (double)f->node[0].value : 0;
    header(out, m, height);
    fprintf(out, "<g id=\"frames\">\n");
    if (frames(out, f, m, scale) != 0)
        return -1;
    fprintf(out, "</g>\n<text id=\"details\" x=\"%.0f\" y=\"%.0f\"> </text>\n"
            "<text id=\"matched\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\"> </text>\n</svg>\n",
            XPAD, height - 14, WIDTH - XPAD, height - 14);
    return ferror(out) ? -1 : 0;
}

int cli_flame_file(const pf_decoded *p, const char *path, const char *title,
                   const cli_report_opts *o)
{
    int vi = pf_decoded_type_index(p, o->sample_index);
    if (vi < 0) {
        cli_error("no sample type %s in the profile", o->sample_index);
        return CLI_EXIT_USAGE;
    }
    cli_flame *f = cli_flame_build(p, vi);
    if (f == NULL) {
        cli_error("out of memory drawing the flame graph");
        return CLI_EXIT_FAIL;
    }
    char total[64], sub[256];
    cli_scaled_label(total, sizeof total, f->node[0].value, p->types[vi].unit, "auto");
    snprintf(sub, sizeof sub, "%s: %s in %llu samples; click to zoom, Search or Ctrl-F to find",
             p->types[vi].type, total, (unsigned long long)pf_decoded_samples(p));
    const char *cn = f->count_type >= 0 ? p->types[f->count_type].type : NULL;
    if (cn != NULL && strstr(cn, "_objects") != NULL)
        cn = "objects";
    cli_flame_meta m = {title, sub, p->types[vi].unit, cn};
    FILE *out = fopen(path, "w");
    int rc = out == NULL || cli_flame_svg(out, f, &m) != 0 ? CLI_EXIT_FAIL : CLI_OK;
    if (out != NULL && fclose(out) != 0)
        rc = CLI_EXIT_FAIL;
    if (rc != 0)
        cli_error("cannot write %s: %s", path, strerror(errno));
    cli_flame_free(f);
    return rc;
}
