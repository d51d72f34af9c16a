package ransom

import (
	"archive/zip"
	"bytes"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"strings"
)

// Decoy names. Ransomware walks a directory either in readdir order or
// sorted. Sorted: "!" sorts before digits and letters in the C locale,
// and locale collation (en_US.UTF-8 …) ignores punctuation, leaving
// "0000…", which still sorts before letters; "~" sorts after letters in
// the C locale and "zzzz" after them under collation. Readdir order is a
// hash (ext4 htree) or creation order (tmpfs), so the guard also creates
// a few hidden candidates and keeps those that readdir returns first.
var decoyStems = []string{"Accounts", "Budget", "Passwords", "Payroll", "Contracts", "Invoices", "Clients", "Salaries"}

// decoyKinds are the formats decoys are made in, by extension.
var decoyKinds = []string{".docx", ".xlsx", ".pdf", ".jpg"}

// decoyNames returns the sort-first and sort-last names for a directory,
// and n hidden readdir candidates, varied by the directory's path so
// that decoys differ between directories.
func decoyNames(dir string, n int) (first, last string, hidden []string) {
	h := fnv.New64a()
	h.Write([]byte(dir))
	r := rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
	pick := func() string { return decoyStems[r.IntN(len(decoyStems))] }
	kind := func() string { return decoyKinds[r.IntN(len(decoyKinds))] }
	first = "!0000_" + pick() + "_2026" + kind()
	last = "~zzzz_" + pick() + "_archive" + kind()
	for i := range n {
		hidden = append(hidden, fmt.Sprintf(".~%s_%04d%s", strings.ToLower(pick()), r.IntN(10000)+i, kind()))
	}
	return first, last, hidden
}

// DecoyContent makes a small valid file of the format name's extension
// promises (.docx, .xlsx, .pdf, .jpg), with plausible text derived from
// name. Other extensions get plain text.
func DecoyContent(name string) ([]byte, error) {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(h.Sum64(), 42))
	words := []string{"quarterly", "revenue", "forecast", "customer", "invoice", "payment", "account", "balance",
		"contract", "renewal", "supplier", "budget", "salary", "bonus", "confidential", "approved", "pending"}
	var lines []string
	for i := 0; i < 12+r.IntN(12); i++ {
		var ws []string
		for j := 0; j < 6+r.IntN(8); j++ {
			ws = append(ws, words[r.IntN(len(words))])
		}
		lines = append(lines, fmt.Sprintf("%s %d.%02d EUR", strings.Join(ws, " "), 100+r.IntN(90000), r.IntN(100)))
	}
	ext := strings.ToLower(name[strings.LastIndexByte(name, '.')+1:])
	switch ext {
	case "docx":
		var body strings.Builder
		for _, l := range lines {
			fmt.Fprintf(&body, `<w:p><w:r><w:t>%s</w:t></w:r></w:p>`, l)
		}
		return ooxml(map[string]string{
			"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
			"_rels/.rels":         `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
			"word/document.xml":   `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `</w:body></w:document>`,
		}, []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"})
	case "xlsx":
		var rows strings.Builder
		for i, l := range lines {
			fmt.Fprintf(&rows, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c><c r="B%d"><v>%d</v></c></row>`, i+1, i+1, l, i+1, r.IntN(100000))
		}
		return ooxml(map[string]string{
			"[Content_Types].xml":        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`,
			"_rels/.rels":                `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
			"xl/workbook.xml":            `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`,
			"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
			"xl/worksheets/sheet1.xml":   `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + rows.String() + `</sheetData></worksheet>`,
		}, []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml"})
	case "pdf":
		return pdf(lines), nil
	case "jpg", "jpeg":
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		c0 := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		for y := range 48 {
			for x := range 64 {
				img.Set(x, y, color.RGBA{c0.R + uint8(x), c0.G + uint8(y), c0.B + uint8(x^y), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

func ooxml(files map[string]string, order []string) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range order {
		w, err := zw.Create(name)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(files[name])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// pdf writes a one-page PDF 1.4 with a correct cross-reference table.
func pdf(lines []string) []byte {
	var content strings.Builder
	content.WriteString("BT /F1 10 Tf 50 780 Td 14 TL\n")
	for _, l := range lines {
		content.WriteString("(" + l + ") Tj T*\n")
	}
	content.WriteString("ET\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
