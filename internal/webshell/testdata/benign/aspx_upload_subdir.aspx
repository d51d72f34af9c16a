<%@ Page Language="C#" %>
<%@ Import Namespace="System.IO" %>
<script runat="server">
    // Hand-written fixture: an upload form storing files in a dedicated
    // uploads folder.
    protected void Upload_Click(object sender, EventArgs e)
    {
        if (!FileUpload1.HasFile) return;
        string name = Path.GetFileName(FileUpload1.PostedFile.FileName);
        FileUpload1.PostedFile.SaveAs(Server.MapPath("~/uploads/") + name);
        Status.Text = "Uploaded " + Server.HtmlEncode(name);
    }
</script>
<form runat="server">
<asp:FileUpload ID="FileUpload1" runat="server" />
<asp:Button runat="server" Text="Upload" OnClick="Upload_Click" />
<asp:Label ID="Status" runat="server" />
</form>
