<%@ Page Language="C#" %>
<script runat="server">
    // Hand-written fixture: stores a posted file at a full path the client
    // types, directory included.
    void Page_Load(object sender, EventArgs e)
    {
        if (Request.Files.Count > 0)
        {
            HttpPostedFile f = Request.Files[0];
            string target = Request.Form["path"];
            f.SaveAs(target);
            Response.Write("saved " + Server.HtmlEncode(target));
        }
    }
</script>
<form method="post" enctype="multipart/form-data"><input type="file" name="f"><input name="path"><input type="submit"></form>
